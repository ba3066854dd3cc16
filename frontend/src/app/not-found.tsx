import Link from "next/link";

export default function NotFound() {
  return (
    <div className="space-y-2">
      <h1 className="text-2xl font-bold">Page not found</h1>
      <p>
        This page does not exist. Go to <Link href="/" className="underline">Today</Link>.
      </p>
    </div>
  );
}

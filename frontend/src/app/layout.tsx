import type { Metadata, Viewport } from "next";
import Nav from "@/components/Nav";
import "./globals.css";

export const metadata: Metadata = {
  title: "TFT Trader",
  description: "Swing-trading signals, the paper portfolio and the models behind them",
};

export const viewport: Viewport = { width: "device-width", initialScale: 1 };

// Runs before paint so a dark-theme user never sees a light flash.
const THEME_SCRIPT = `try{var t=localStorage.getItem("tft.theme");if(t==="dark"||(!t&&matchMedia("(prefers-color-scheme: dark)").matches))document.documentElement.classList.add("dark")}catch(e){}`;

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="en" suppressHydrationWarning>
      <head>
        <script dangerouslySetInnerHTML={{ __html: THEME_SCRIPT }} />
      </head>
      <body className="min-h-screen font-sans antialiased">
        <a
          href="#main"
          className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded focus:bg-white focus:px-3 focus:py-2 dark:focus:bg-slate-900"
        >
          Skip to content
        </a>
        <Nav />
        <main id="main" className="mx-auto max-w-7xl px-4 py-6">
          {children}
        </main>
        <footer className="mx-auto max-w-7xl px-4 pb-6 text-xs text-slate-500">
          Times are New York time (ET, zone shown); trading dates are ET sessions. Paper trading only: signals are
          not investment advice.
        </footer>
      </body>
    </html>
  );
}

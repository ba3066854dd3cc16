import type { NextConfig } from "next";

// A static export served by the FastAPI app at `/` (backend/api/static.py): no server, no dynamic routes,
// and every page as `dir/index.html` (trailingSlash) so `/signals/` resolves without rewrites.
const nextConfig: NextConfig = {
  output: "export",
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
};

export default nextConfig;

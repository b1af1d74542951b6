import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The API serves dist/ at `/`; in development, `vite` proxies the API (and its terminal WebSocket)
// to a Glassdome started with `pnpm start`.
const api = process.env.GLASSDOME_URL ?? 'http://127.0.0.1:8001';

export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 800 },
  server: {
    proxy: {
      '/api': { target: api, ws: true },
      '/admin': { target: api },
    },
  },
});

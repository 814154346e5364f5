/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// Where `npm run dev` forwards /api calls: a locally running `nexusctl up`.
const devApi = process.env.NEXUS_DEV_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  // JSX is compiled by Vite's built-in transformer with React's automatic runtime
  // (tsconfig "jsx": "react-jsx"); no React plugin is needed to build offline.
  oxc: {
    jsx: { runtime: 'automatic' },
  },
  build: {
    // Evergreen browsers only; CSS relies on color-mix(), so no lowering for older engines.
    target: ['chrome111', 'edge111', 'firefox113', 'safari16.4'],
    cssTarget: ['chrome111', 'edge111', 'firefox113', 'safari16.4'],
    outDir: 'dist',
    assetsDir: 'assets',
    sourcemap: false,
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/api': { target: devApi, changeOrigin: false },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}', 'scripts/**/*.test.mjs'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
  },
});

// The container suite (npm run test:containers): podman builds and runs the watchdog image and every
// template image as real containers. Not part of npm test: it installs packages and takes minutes.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/containers/**/*.test.ts'],
    globalSetup: ['test/containers/global-setup.ts'],
    testTimeout: 90_000,
    hookTimeout: 600_000,
    pool: 'forks',
    reporters: ['default'],
  },
});

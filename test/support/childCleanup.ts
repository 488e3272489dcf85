import { killLiveChildren } from './childProcesses';

// Runs after every test file (jest setupFilesAfterEnv): a test that failed or timed out while its
// child process was running must not leave the child behind.
afterAll(async () => {
  await killLiveChildren();
});

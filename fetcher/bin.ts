/** Entry point in development (`node fetcher/bin.ts`); the built executable starts from snapshot-entry.ts. */
import { start } from './start.js';

start();

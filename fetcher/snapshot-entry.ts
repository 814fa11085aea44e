/**
 * Entry point of the built executable (scripts/build-fetcher.mjs). Built into a V8 startup
 * snapshot (SEA `useSnapshot`), the modules every run needs are evaluated once, at build time, and
 * each run starts from that heap instead of compiling and evaluating them (FILE run ~90 -> ~70 ms
 * CPU, bench/README.md). The snapshot is taken before any run: nothing from a pod is in it, and
 * Math.random and crypto are seeded per process as usual.
 *
 * Not in the snapshot: the token-exchange and GCP token sources (openid-client, fetch); they load
 * on use as in development. (@kubernetes/client-node could not be snapshotted — V8 aborts on its
 * native handles — which is why k8s-secret.ts now POSTs with node:https.) Run as a plain script
 * (the code-cache fallback build), this file just starts.
 */
import { startupSnapshot } from 'node:v8';
import { start } from './start.js';
// Evaluated into the snapshot (main.ts imports them lazily, so a plain run pays only for what it uses).
import './token/index.js';
import './token/serviceaccount.js';
import './mlp.js';
import './http-transport.js';
import './k8s-secret.js';

if (startupSnapshot.isBuildingSnapshot()) startupSnapshot.setDeserializeMainFunction(start);
else start();

// Worker entry used only when running from TypeScript sources (tests, `npm run dev`): registers tsx's loader,
// then imports the real worker. On Node 20 a worker's inherited --import hooks do not reach its entry module.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);

import { runServer } from '@nexttap/cli';

await runServer('ingest');

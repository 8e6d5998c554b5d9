// Writes the timeline history files a catch-up promotion needs (src/core/timeline-catchup.ts) into
// pg_wal, before pg_promote. A file already there (fetched by the WAL receiver, or restored) is
// PostgreSQL's own and is kept: only its existence matters to the timeline number it picks.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { historyFileName, type TimelineFile } from '../core/timeline-catchup.js';
import { fileExists, ownerOf, writeOwnedFile } from './files.js';
import { PgError } from './errors.js';

export async function writeTimelineFiles(walDir: string, files: readonly TimelineFile[], logger: Logger): Promise<string[]> {
  const written: string[] = [];
  try {
    const owner = await ownerOf(walDir);
    for (const f of files) {
      const path = join(walDir, historyFileName(f.timeline));
      if (await fileExists(path)) continue;
      await writeOwnedFile(path, f.content, 0o600, owner);
      written.push(historyFileName(f.timeline));
    }
  } catch (err) {
    throw new PgError('command-failed', `could not write timeline history files into ${walDir}`, { cause: err, retryable: false });
  }
  if (written.length > 0) logger.info({ walDir, written }, 'timeline history files written from the history key before promoting');
  return written;
}

/**
 * Private data files on an install that predates them: the server now creates its database and
 * secret.key 0600, but files an older version made under the usual umask (0644) stay readable by
 * every local user until someone changes them.
 */
import { chmodSync, statSync, type Stats } from 'node:fs';

/** The mode as `ls` and chmod write it: 0644. */
const octal = (mode: number) => mode.toString(8).padStart(4, '0');

/**
 * Removes group and other permissions from those of `files` that exist, belong to this process's
 * user and have any, and says so in one warning line. Never throws: a file it cannot change is
 * named in that line. Only regular files: a folder's mode is the operator's to choose.
 */
export function restrictFileModes(files: string[], log: { warn(fields: object, msg: string): void }): void {
  // Without getuid (Windows) there are no such modes to tighten, nor an owner to compare.
  const uid = process.getuid?.();
  if (uid === undefined) return;
  const restricted: { file: string; from: string; to: string }[] = [];
  const failed: { file: string; mode: string; error: string }[] = [];
  for (const file of files) {
    let st: Stats;
    try {
      st = statSync(file);
    } catch {
      // Absent (a new install, a closed database's -wal) or unreadable: nothing this can change.
      continue;
    }
    // Another user's file is the operator's arrangement (and not ours to chmod).
    if (!st.isFile() || st.uid !== uid || (st.mode & 0o077) === 0) continue;
    const from = st.mode & 0o7777;
    const to = from & ~0o077;
    try {
      chmodSync(file, to);
      restricted.push({ file, from: octal(from), to: octal(to) });
    } catch (err) {
      failed.push({ file, mode: octal(from), error: (err as Error).message });
    }
  }
  if (restricted.length === 0 && failed.length === 0) return;
  const said: string[] = [];
  if (restricted.length > 0)
    said.push(
      `removed group and other permissions from data files other local users could open: ${restricted.map((r) => `${r.file} ${r.from} → ${r.to}`).join(', ')}`,
    );
  if (failed.length > 0)
    said.push(
      `could not remove group and other permissions from ${failed.map((f) => `${f.file} (${f.mode}: ${f.error})`).join(', ')}; other local users can open them until that is done (chmod go= <file>)`,
    );
  log.warn({ restricted, failed }, said.join('; '));
}

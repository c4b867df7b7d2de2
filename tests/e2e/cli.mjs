// The gicx CLI as the end-to-end tests' oracle: what the page shows is compared,
// by value, with what `gicx … --json` computes from the same core. scripts/e2e
// passes the release binary as GICX; without it the tests fail naming the path.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The CLI binary: $GICX, else target/release/gicx. */
export const GICX =
  process.env.GICX ?? resolve(REPO, process.env.CARGO_TARGET_DIR ?? 'target', 'release', 'gicx');

/** Runs `gicx ...args` (exit 0 expected) and returns its standard output. */
export function gicx(args) {
  if (!existsSync(GICX)) {
    throw new Error(`the gicx CLI is missing at ${GICX} (cargo build --release -p gicx-cli)`);
  }
  return execFileSync(GICX, args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
}

/** Runs `gicx ...args --json` and parses its output. */
export function gicxJson(args) {
  return JSON.parse(gicx([...args, '--json']));
}

/** A `gicx regs --json` entry as the register list names it (`GICD_IGROUPR<n>E`). */
export function pattern(reg) {
  return reg.indexed ? `${reg.name}<n>${reg.suffix}` : reg.name;
}

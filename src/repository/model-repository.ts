// Finds models in `<root>/<model>/<version>/model.onnx` (Triton's layout) and reads their files.
// Invariant: never throws for one bad model; a broken config.json is reported on that model only, and files or
// folders that are not part of the layout (a README, a training script, `latest/`) are ignored.
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { type ModelConfig, ModelConfigError, parseModelConfig } from '../config/model-config.js';

export const MODEL_FILE = 'model.onnx';
export const CONFIG_FILE = 'config.json';
export const BASELINE_FILE = 'baseline.json';
/** `model.onnx.sha256` beside a model file: its hex digest, optionally followed by the file name (sha256sum's format). */
export const DIGEST_FILE = `${MODEL_FILE}.sha256`;
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const VERSION_DIR = /^[1-9][0-9]{0,8}$/;

export interface VersionEntry {
  version: number;
  file: string;
}

export interface ModelEntry {
  name: string;
  dir: string;
  /** The parsed config.json, or {} when there is none. */
  config: ModelConfig;
  /** Set when config.json exists but is invalid: the model must not load. */
  configError?: string;
  versions: VersionEntry[];
  /** Version folders without a model file (deleted or not written yet): not loadable, not a reason to unload. */
  versionsWithoutFile: number[];
}

export interface ModelFile {
  bytes: Uint8Array;
  sha256: string;
}

export function isValidModelName(name: string): boolean {
  return MODEL_NAME.test(name);
}

/** A model file that REQUIRE_SHA256 refuses: no digest file, an unreadable one, or a digest that does not match. */
export class ModelIntegrityError extends Error {
  override readonly name = 'ModelIntegrityError';
}

export interface RepositoryOptions {
  /** Load a model file only when the digest file beside it names its sha256 (REQUIRE_SHA256). */
  requireSha256?: boolean;
}

export class ModelRepository {
  readonly root: string;
  readonly requireSha256: boolean;
  constructor(root: string, options: RepositoryOptions = {}) {
    this.root = root;
    this.requireSha256 = options.requireSha256 ?? false;
  }

  /** Every model directory under the root, sorted by name. Throws only if the root itself is unreadable. */
  async scan(): Promise<ModelEntry[]> {
    const dirents = await fs.readdir(this.root, { withFileTypes: true });
    const names: string[] = [];
    for (const d of dirents) if (isValidModelName(d.name) && (await isDirectory(this.root, d))) names.push(d.name);
    names.sort();
    const entries = await Promise.all(names.map((name) => this.readModel(name)));
    return entries.filter((e): e is ModelEntry => e !== undefined);
  }

  /** One model's entry, or undefined when the directory does not exist. */
  async readModel(name: string): Promise<ModelEntry | undefined> {
    if (!isValidModelName(name)) return undefined;
    const dir = path.join(this.root, name);
    let dirents;
    try {
      dirents = await fs.readdir(dir, { withFileTypes: true });
    } catch {
      return undefined;
    }
    const versions: VersionEntry[] = [];
    const versionsWithoutFile: number[] = [];
    for (const d of dirents) {
      if (!VERSION_DIR.test(d.name) || !(await isDirectory(dir, d))) continue;
      const file = path.join(dir, d.name, MODEL_FILE);
      if (await isFile(file)) versions.push({ version: Number(d.name), file });
      else versionsWithoutFile.push(Number(d.name));
    }
    versions.sort((a, b) => a.version - b.version);
    versionsWithoutFile.sort((a, b) => a - b);
    const entry: ModelEntry = { name, dir, config: {}, versions, versionsWithoutFile };
    const configFile = path.join(dir, CONFIG_FILE);
    let text: string | undefined;
    try {
      text = await fs.readFile(configFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') entry.configError = `${CONFIG_FILE}: ${(err as Error).message}`;
    }
    if (text !== undefined) {
      try {
        entry.config = parseModelConfig(text, CONFIG_FILE);
      } catch (err) {
        if (!(err instanceof ModelConfigError)) throw err;
        entry.configError = err.message;
      }
    }
    return entry;
  }

  /** The parsed `baseline.json` beside a version's model file, undefined when absent; throws on invalid JSON. */
  async readBaseline(modelFile: string): Promise<unknown> {
    let text: string;
    try {
      text = await fs.readFile(path.join(path.dirname(modelFile), BASELINE_FILE), 'utf8');
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new Error(`${BASELINE_FILE} is not valid JSON: ${(err as Error).message}`);
    }
  }

  /**
   * The model file's bytes and their sha256, read once so that the digest matches what is loaded. With
   * requireSha256, throws ModelIntegrityError unless `model.onnx.sha256` beside it holds that digest.
   */
  async readModelFile(file: string): Promise<ModelFile> {
    const bytes = await fs.readFile(file);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (this.requireSha256) await this.verifyDigest(file, sha256);
    return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), sha256 };
  }

  private async verifyDigest(file: string, sha256: string): Promise<void> {
    const digestFile = `${file}.sha256`;
    let text: string;
    try {
      text = await fs.readFile(digestFile, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ModelIntegrityError(code === 'ENOENT' ? `REQUIRE_SHA256 is set and ${DIGEST_FILE} is missing beside the model file` : `cannot read ${DIGEST_FILE}: ${code ?? (err as Error).message}`);
    }
    const expected = /^\s*([0-9a-fA-F]{64})(\s|$)/.exec(text)?.[1]?.toLowerCase();
    if (!expected) throw new ModelIntegrityError(`${DIGEST_FILE} does not start with a sha256 hex digest (64 hex digits)`);
    if (expected !== sha256) throw new ModelIntegrityError(`the model file's sha256 is ${sha256} but ${DIGEST_FILE} says ${expected}; the file was changed or corrupted`);
  }
}

/** The text of a digest file for `bytes`' sha256, in sha256sum's format. */
export function digestFileText(sha256: string): string {
  return `${sha256}  ${MODEL_FILE}\n`;
}

/** Directories, and symbolic links to directories (volumes and ConfigMaps mount through links). */
async function isDirectory(parent: string, d: import('node:fs').Dirent): Promise<boolean> {
  if (d.isDirectory()) return true;
  if (!d.isSymbolicLink()) return false;
  try {
    return (await fs.stat(path.join(parent, d.name))).isDirectory();
  } catch {
    return false;
  }
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isFile();
  } catch {
    return false;
  }
}

// Loads a package that is kept out of the main bundle (CHUNKS in scripts/bundle-options.mjs: undici,
// send, prom-client) the first time it is imported. Every start compiles and keeps the whole main
// script, so those 0.7 MB cost start-up time and memory in every mode; as chunks they cost only
// where they are used. Only the bundle calls this (the build maps the imports here); the sources run
// under tests import the packages directly.

/** The chunk as an asset of the single-file binary, with the V8 code cache made for it at build time. */
interface Sea {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
  getAsset(key: string, encoding: string): string;
}

/** The text around a chunk's source (CHUNK_WRAP in scripts/bundle-options.mjs, stamped in by the build). */
declare const __FWATCHDOG_CHUNK_WRAP__: [string, string];

function seaOrUndefined(): Sea | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- node:sea exists from Node 20.12 only
    const sea = require('node:sea') as Sea;
    return sea.isSea() ? sea : undefined;
  } catch {
    // An older Node: not a single-file binary.
    return undefined;
  }
}

/** The exports of chunk `name`: from the binary's assets, else dist/chunks/<name>.cjs next to the bundle. */
export function loadChunk(name: string): unknown {
  const sea = seaOrUndefined();
  if (sea === undefined) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a file beside the bundle, known only at run time
    return require(`${__dirname}/chunks/${name}.cjs`) as unknown;
  }
  const source = sea.getAsset(`chunks/${name}.cjs`, 'utf8');
  let cachedData: Buffer | undefined;
  try {
    cachedData = Buffer.from(sea.getAsset(`chunks/${name}.cache`));
  } catch {
    // Built without a code cache: compiled from the source.
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when a chunk is
  const { Script } = require('node:vm') as typeof import('node:vm');
  const [head, tail] = __FWATCHDOG_CHUNK_WRAP__;
  const script = new Script(`${head}${source}${tail}`, {
    filename: `fwatchdog/chunks/${name}.cjs`,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} as unknown };
  (script.runInThisContext() as (e: unknown, r: NodeJS.Require, m: { exports: unknown }) => void)(
    module.exports,
    require,
    module,
  );
  return module.exports;
}

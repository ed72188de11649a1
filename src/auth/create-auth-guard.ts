// Builds the request guard from the auth_* variables: API key first (headers only), then the body HMAC.
import type { WatchdogConfig } from '../config/load-config.js';
import type { Logger } from '../log/logger.js';
import type { RequestGuard } from './request-guard.js';
import { createApiKeyCheck, keyDigest } from './api-key-check.js';
import { createHmacCheck, hmacKey, SIGNED_BODY_DEFAULT_MAX_BYTES } from './hmac-check.js';
import { createSecretFile } from './secret-file.js';

/** Where the guard logs secret changes, and how often it looks at the secret files. */
export interface AuthGuardOptions {
  logger: Logger;
  /** How often, at most, secret files are stat-ed to notice a rotation. */
  recheckMs?: number;
}

type AuthConfig = Pick<
  WatchdogConfig,
  'secretMountPath' | 'authApiKeySecret' | 'authApiKeyHeader' | 'authHmacSecret' | 'authHmacHeader' | 'maxBodyBytes'
>;

/** Returns the guard, or undefined when no auth_* secret is set (no per-request cost at all). */
export function createAuthGuard(config: AuthConfig, options: AuthGuardOptions): RequestGuard | undefined {
  const { logger } = options;
  const common = { logger, ...(options.recheckMs === undefined ? {} : { recheckMs: options.recheckMs }) };
  // Each secret is read once here, at start-up, and then only when its file changes.
  const keyFile =
    config.authApiKeySecret === undefined
      ? undefined
      : createSecretFile(config.secretMountPath, config.authApiKeySecret, { ...common, derive: keyDigest });
  keyFile?.current();
  const apiKey = keyFile === undefined ? undefined : createApiKeyCheck(keyFile, config.authApiKeyHeader);
  const signedBodyMaxBytes = config.maxBodyBytes > 0 ? config.maxBodyBytes : SIGNED_BODY_DEFAULT_MAX_BYTES;
  const hmacFile =
    config.authHmacSecret === undefined
      ? undefined
      : createSecretFile(config.secretMountPath, config.authHmacSecret, { ...common, derive: hmacKey });
  hmacFile?.current();
  const hmac =
    hmacFile === undefined ? undefined : createHmacCheck(hmacFile, config.authHmacHeader, signedBodyMaxBytes);

  if (apiKey !== undefined)
    logger.info(
      `Auth: API key required in header ${config.authApiKeyHeader} (or Authorization: Bearer), secret "${config.authApiKeySecret}"`,
    );
  if (hmac !== undefined)
    logger.info(
      `Auth: body signature required in header ${config.authHmacHeader} (sha256=<hex>), secret "${config.authHmacSecret}", signed bodies up to ${signedBodyMaxBytes} bytes`,
    );

  if (apiKey !== undefined && hmac !== undefined) {
    return (req, body, beforeBody) => {
      const refused = apiKey(req);
      if (refused !== undefined) return refused;
      return hmac(req, body, beforeBody);
    };
  }
  if (apiKey !== undefined) return (req, body) => apiKey(req) ?? body;
  if (hmac !== undefined) return hmac;
  return undefined;
}

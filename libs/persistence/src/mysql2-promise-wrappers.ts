import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * One promise wrapper per pooled mysql2 connection, made once.
 *
 * TypeORM's MySQL query runner calls `connection.promise()` for every statement. mysql2's `PoolConnection#promise`
 * `require`s its wrapper class on each call; once `mysql2/promise` has loaded that file first (TypeORM loads it), Node's
 * CommonJS loader resolves this second, relative `require` from scratch every time, package.json reads included. A
 * CPU profile of the API put that at about 4 % of its time on a task action. The wrapper holds nothing but the
 * connection and the Promise class, so one per connection serves every statement.
 *
 * mysql2's package exports do not include its `lib/` files, so they are required by path from the package's own
 * directory: the same files, so the same classes, that TypeORM's pool uses. A mysql2 whose files moved is left as it
 * is (`installed` says whether the cache is in place).
 */
type PromiseMethod = (this: object, promiseImpl?: PromiseConstructor) => unknown;

let installed: boolean | undefined;

export function cachePromiseWrappers(): boolean {
  if (installed !== undefined) return installed;
  try {
    const require = createRequire(import.meta.url);
    const root = dirname(require.resolve('mysql2'));
    const PoolConnection = require(join(root, 'lib', 'pool_connection.js')) as { prototype: { promise: PromiseMethod } };
    const PromisePoolConnection = require(join(root, 'lib', 'promise', 'pool_connection.js')) as new (connection: object) => unknown;
    const original = PoolConnection.prototype.promise;
    const wrappers = new WeakMap<object, unknown>();
    PoolConnection.prototype.promise = function (this: object, promiseImpl?: PromiseConstructor) {
      if (promiseImpl !== undefined) return original.call(this, promiseImpl);
      let wrapper = wrappers.get(this);
      if (wrapper === undefined) wrappers.set(this, (wrapper = new PromisePoolConnection(this)));
      return wrapper;
    };
    installed = true;
  } catch {
    installed = false;
  }
  return installed;
}

/**
 * Listing one level down: a driver that has `getChildPrefixes` names the key segments directly below a
 * base under which keys lie (directories on a filesystem, delimited prefixes on R2), so that the store can
 * list a module's days without listing every segment of every day — what a ListEvents page that ends in
 * its first day wants. unstorage has no such call; the store finds it on the mounted driver.
 *
 * @module
 */

export interface PrefixListable {
  /** The distinct next segments of the keys below `base` that have more segments after it, sorted. */
  getChildPrefixes(base: string): Promise<string[]>;
}

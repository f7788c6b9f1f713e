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

/**
 * Every key below `base` that lies below one of its children, grouped by that child: what a scan of a
 * module's days wants, without a listing per day through unstorage (a directory read per day on the
 * filesystem, but no per-key normalising or regrouping), so a query over months lists them in one call.
 */
export interface ChildKeysListable {
  /**
   * `[child, keys]` per child of `base` holding keys, children sorted; each group's keys are relative to
   * `base:child:` and sorted. A key directly at `base:child` (no segment after the child) is in no group.
   */
  getKeysByChild(base: string): Promise<[string, string[]][]>;
}

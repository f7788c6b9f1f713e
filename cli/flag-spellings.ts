/**
 * Request fields are flags in kebab-case. Three flags have shorter everyday names (`--tz`, `--type`,
 * `--cell`); the kebab-case of their request field is accepted as well, so a flag can always be derived
 * from the field it sets: `--time-zone`, `--types`, `--cell-degrees`.
 */
const SPELLINGS: Readonly<Record<string, string>> = {
  "--time-zone": "--tz",
  "--types": "--type",
  "--cell-degrees": "--cell",
};

/** `argv` with the field spellings (also as `--name=value`) replaced by the flags they stand for. */
export function withFieldSpellings(argv: readonly string[]): string[] {
  const end = argv.indexOf("--");
  return argv.map((arg, i) => {
    // After `--` everything is an operand.
    if (end >= 0 && i > end) return arg;
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const flag = SPELLINGS[name];
    return flag === undefined ? arg : `${flag}${eq > 0 ? arg.slice(eq) : ""}`;
  });
}

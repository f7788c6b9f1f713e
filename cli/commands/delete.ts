/**
 * `tally delete`: DeleteData — every event of one module of the caller's tenant, or of the whole tenant,
 * recorded before now. With --data-dir it works on a data directory directly (then --tenant).
 */
import { type Command, Option } from "commander";
import { deleteData } from "../../store/deletion.ts";
import { isValidModule } from "../../store/keys.ts";
import { type GlobalOptions, makeClient } from "../client.ts";
import { UsageError } from "../errors.ts";
import { checkTenant, openLocalStore } from "../local-store.ts";
import { jsonText, out, outputFormat } from "../output.ts";

interface DeleteFlags extends GlobalOptions {
  module?: string;
  allModules?: boolean;
  yes?: boolean;
  dataDir?: string;
  tenant?: string;
}

export function deleteCommand(program: Command): Command {
  return program
    .command("delete")
    .description("delete all events of a module, or of the whole tenant; needs an admin key (DeleteData)")
    .option("--module <name>", "the module whose events are deleted")
    .option("--all-modules", "delete every module of the tenant")
    .option("--yes", "required: there is no undo")
    .addOption(new Option("--data-dir <dir>", "work on this data directory directly, without a server"))
    .option("--tenant <name>", "with --data-dir: whose events")
    .action(async (_o: unknown, cmd: Command) => {
      const flags = cmd.optsWithGlobals<DeleteFlags>();
      if (!flags.module === !flags.allModules)
        throw new UsageError("give either --module <name> or --all-modules");
      if (flags.module && !isValidModule(flags.module))
        throw new UsageError(`--module ${JSON.stringify(flags.module)}: not a module name`);
      if (!flags.yes) throw new UsageError("deleting cannot be undone: add --yes");
      let segments: number;
      if (flags.dataDir) {
        const { store } = await openLocalStore(flags.dataDir, { mustExist: true });
        const tenant = checkTenant(flags.tenant);
        segments = (await deleteData(store, { tenant, ...(flags.module ? { module: flags.module } : {}) }))
          .segments;
      } else {
        const res = await makeClient(flags).deleteData({
          module: flags.module ?? "",
          allModules: flags.allModules ?? false,
        });
        segments = res.segments;
      }
      const format = outputFormat(flags.output);
      if (format === "table")
        await out(`deleted ${flags.module ?? "every module"}: ${segments} segments removed\n`);
      else await out(jsonText({ segments }));
    });
}

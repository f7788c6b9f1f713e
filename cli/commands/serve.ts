/** `tally serve`: the server in this process — what `npm start` runs, with flags for its environment. */
import type { Command } from "commander";
import { UsageError } from "../errors.ts";

interface ServeFlags {
  port?: string;
  host?: string;
  dataDir?: string;
}

export function serveCommand(program: Command): Command {
  return program
    .command("serve")
    .description("start the Tally server (HOST, PORT, DATA_DIR and TALLY_CONFIG as for npm start)")
    .option("--port <port>", "port to listen on (env PORT, default 8787; 0 picks a free one)")
    .option("--host <address>", "address to listen on (env HOST, default 127.0.0.1)")
    .option("--data-dir <dir>", "where events are stored (env DATA_DIR, default ./data)")
    .action(async (flags: ServeFlags) => {
      if (flags.port !== undefined && !/^\d+$/.test(flags.port)) {
        throw new UsageError(`--port ${JSON.stringify(flags.port)}: expected a port number`);
      }
      // The server reads its configuration from the environment (functions/config.ts); the flags set it.
      if (flags.port !== undefined) process.env.PORT = flags.port;
      if (flags.host !== undefined) process.env.HOST = flags.host;
      if (flags.dataDir !== undefined) process.env.DATA_DIR = flags.dataDir;
      // Imported here, not at the top: the client commands should not load the server to start.
      const { startNode } = await import("../../functions/node.ts");
      let server: Awaited<ReturnType<typeof startNode>>;
      try {
        server = await startNode();
      } catch (error) {
        // The server's own messages are already one readable line, prefixed for its log.
        throw new Error(String(error instanceof Error ? error.message : error).replace(/^\[tally\] /, ""));
      }
      const stop = () => server.close().then(() => process.exit(0));
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
}

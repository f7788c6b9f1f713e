/** The virtual module scripts/build-worker.ts makes from web/dist (see embedded-assets.ts). */
declare module "tally:web-assets" {
  const files: Readonly<Record<string, { type: string; base64: string }>>;
  export default files;
}

/**
 * The folder rule (docs/architecture.md, "Layers"): src/ folders form layers, and a folder may
 * import only from its own folder or a layer below it — never from a layer above, never from a
 * peer in its own layer. Run by `npm run depcruise` in scripts/test.sh, next to madge.
 *
 * Each entry is a regex on the path below src/: a folder (`docker/`) or a root file (`errors.ts`).
 */
const LAYERS = [
  // The typed errors and errorMessage(): everything may throw them.
  ['errors\\.ts'],
  // Shared by every stage: domain types and rules, time, part lifecycle, logging, node:http without undici.
  ['domain/', 'time/', 'lifecycle\\.ts', 'log/', 'node-http\\.ts'],
  // Observability every stage reports to: metrics, health, the status server.
  ['http/'],
  // Adapters of the external systems.
  ['docker/', 'consul/'],
  // The register role; the pure snapshot builder the watch and switch read.
  ['registrar/', 'snapshot/'],
  // Watching Consul, driving the proxy, switching traffic.
  ['watch/', 'proxy/', 'switch/'],
  // The render role: watch → snapshot → template → proxy; rollouts run by the daemon, beside it
  // (docs/rollouts.md): the rollout machine and executor build on the switch decisions and store.
  ['render/', 'rollout/'],
  // The part list and its lifecycle.
  ['daemon\\.ts'],
  // The command line and the composition root that builds the parts.
  ['cli/'],
];

const path = (entry) => `^src/${entry}`;
const layerRules = LAYERS.flatMap((layer, i) =>
  layer.map((entry) => {
    const allowed = [...LAYERS.slice(0, i).flat(), entry];
    return {
      name: `layer-${entry.replace(/[^a-z]/g, '')}`,
      comment: `src/${entry.replace('\\', '')} may import only its own folder and layers below it`,
      severity: 'error',
      from: { path: path(entry) },
      to: { path: '^src/', pathNot: allowed.map(path) },
    };
  }),
);

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no file imports itself through others',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-in-layers',
      comment: 'every file of src/ belongs to a layer: add a new folder to LAYERS',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS.flat().map(path) },
      to: {},
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};

/** Command-line options of the bench programs: `--name value` pairs, checked against the names a program knows. */
export interface BenchOptions {
  /** Every value given for --name, in order (repeatable options). */
  all(name: string): string[];
  /** The last value given for --name. */
  get(name: string): string | undefined;
  /** A whole number from min to max, or dflt when not given. */
  int(name: string, dflt: number, min: number, max: number): number;
}

/** Exits with code 2 on an unknown option, naming the program's header for the list. */
export function benchOptions(program: string, known: readonly string[], flags: readonly string[] = []): BenchOptions {
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (flags.includes(a.slice(2)) && a.startsWith('--')) continue;
    if (!a.startsWith('--') || !known.includes(a.slice(2))) {
      console.error(`${program}: unknown argument ${a} (see the header of bench/${program}.ts)`);
      process.exit(2);
    }
    i += 1;
  }
  const all = (name: string): string[] => {
    const out: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      if (flags.includes(argv[i]!.slice(2))) continue;
      if (argv[i] === `--${name}`) {
        const v = argv[i + 1];
        if (v === undefined) throw new Error(`--${name} needs a value`);
        out.push(v);
      }
      i += 1;
    }
    return out;
  };
  return {
    all,
    get: (name) => all(name).at(-1),
    int(name, dflt, min, max) {
      const raw = all(name).at(-1);
      const v = raw === undefined ? dflt : Number(raw);
      if (!Number.isInteger(v) || v < min || v > max)
        throw new Error(`--${name} expects a whole number from ${min} to ${max}, got "${raw}"`);
      return v;
    },
  };
}

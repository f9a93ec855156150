// Which defined functions need a check at their entry (see instrument.ts).
//
// The entry check charges the module-wide counter one step per call. It is
// needed where calls alone could run on without reaching a check:
//   - functions with a loop: a loop function called from another's loop
//     starts its local counter afresh on every call, and only the entry
//     charge bounds how many such calls run between two checks;
//   - functions on a cycle of the call graph (a non-trivial strongly
//     connected component, or a call of itself): recursion;
//   - functions whose calls, though finite, could add up to much unchecked
//     work: a call-only function may call another several times, that one
//     another several times, and so on, which grows exponentially with the
//     depth of an acyclic call graph. Each unchecked function's `weight`, the
//     instructions a call of it can run without passing a check (its own
//     body, once, since without a loop no instruction runs twice, plus the
//     weights of the unchecked functions it calls, per call site), stays at
//     most MAX_UNCHECKED_WEIGHT; a function that would weigh more is checked
//     and weighs nothing to its callers.
// Everything else (leaves, and call-only functions off every cycle within the
// weight) is left alone.
//
// The graph has an edge per direct call (`call`, `return_call`) to a defined
// function. An indirect call (`call_indirect`, `return_call_indirect`,
// `call_ref`, `return_call_ref`) may reach any function whose reference can
// get out: one named in an element segment, by `ref.func` anywhere, or
// exported (JavaScript can put an exported function into a table or pass it
// as a funcref); and any function at all when a table is imported or
// exported. Rather than an edge from every indirect caller to every such
// target, the indirect callers have an edge to one extra node, `table`, which
// has an edge to every target: the cycles are the same. Calls to imported
// functions make no edges: the host cannot call back into the instance that
// called it (the engine refuses re-entry). Nor do calls followed by
// `unreachable` (aborts, panics), which the instrumenter checks where they
// are made instead: as every function may abort, and aborting formats a
// message with functions that may abort in turn, they would otherwise put
// much of a module on one cycle.
//
// Strongly connected components by Tarjan's algorithm, iteratively (modules
// can have 10^5 functions); it finds each component after every component
// reachable from it, which is the order the weights need.

/**
 * The most instructions that a call of an unchecked function can run
 * without passing a check, its unchecked callees included. Between two
 * checks a checked call can then run its own body plus this much per call
 * site, where before every calling function was checked and a call site cost
 * at most one leaf function's body.
 */
export const MAX_UNCHECKED_WEIGHT = 1000;

/** Collects the call graph of a module's defined functions while its code is read, then says which need an entry check. */
export class CallGraph {
  /** per defined function: where its direct callees start in `callees` */
  private readonly calleesStart: number[] = [];
  /** the defined callee of every direct call site, in order of the callers */
  private readonly callees: number[] = [];
  /** per defined function: how many indirect call sites it has */
  private readonly indirectCalls: number[] = [];
  /** per defined function: how many instructions its body has */
  private readonly instructions: number[] = [];
  /** per defined function: whether it has a loop */
  private readonly loops: boolean[] = [];
  /** defined functions whose references can get out (indices may repeat or be out of range in an invalid module) */
  private readonly escaping: number[] = [];
  private anyEscapes = false;

  /** Function indices below `imported` name imports. */
  constructor(private readonly imported: number) {}

  /** `index` (a module function index) can end up in a table or a funcref: element segments, ref.func, exports. */
  escapes(index: number): void {
    if (index >= this.imported) this.escaping.push(index - this.imported);
  }

  /** A table is imported or exported, so the host can put functions in it: to be safe, any function counts as a target. */
  tableShared(): void {
    this.anyEscapes = true;
  }

  /** Starts the next defined function's body. */
  beginFunction(): void {
    this.calleesStart.push(this.callees.length);
    this.indirectCalls.push(0);
    this.instructions.push(0);
    this.loops.push(false);
  }

  /** The current function calls `index` (a module function index) directly. */
  call(index: number): void {
    if (index >= this.imported) this.callees.push(index - this.imported);
  }

  /** The current function calls through a table or a reference. */
  callIndirect(): void {
    this.indirectCalls[this.indirectCalls.length - 1]!++;
  }

  /** The current function has a loop. */
  loop(): void {
    this.loops[this.loops.length - 1] = true;
  }

  /** The current function's body has `count` instructions. */
  endFunction(count: number): void {
    this.instructions[this.instructions.length - 1] = count;
  }

  /** Per defined function, 1 when its entry needs a check. */
  entryChecks(maxWeight = MAX_UNCHECKED_WEIGHT): Uint8Array {
    const n = this.calleesStart.length;
    const table = n; // the extra node standing for every indirect call target
    const nodes = n + 1;
    const { callees, calleesStart, indirectCalls, instructions, loops } = this;
    const calleesEnd = (f: number): number => (f + 1 < n ? calleesStart[f + 1]! : callees.length);

    // The table node's successors: every function whose reference can get out.
    let targets: Int32Array;
    if (this.anyEscapes) {
      targets = Int32Array.from({ length: n }, (_, f) => f);
    } else {
      const seen = new Uint8Array(n);
      for (const f of this.escaping) if (f < n) seen[f] = 1;
      targets = new Int32Array(seen.reduce((k, s) => k + s, 0));
      for (let f = 0, k = 0; f < n; f++) if (seen[f]) targets[k++] = f;
    }
    for (let i = 0; i < callees.length; i++) {
      // an invalid module may call past its functions: no edge (it will not compile anyway)
      if (callees[i]! >= n) callees[i] = -1;
    }

    // successor k of `node` (k counts from 0): -1 for an edge dropped above, -2 past the last
    const successor = (node: number, k: number): number => {
      if (node === table) return k < targets.length ? targets[k]! : -2;
      const at = calleesStart[node]! + k;
      const end = calleesEnd(node);
      if (at < end) return callees[at]!; // -1 for a dropped edge
      return at === end && indirectCalls[node]! > 0 ? table : -2;
    };

    const checked = new Uint8Array(n);
    const weight = new Float64Array(n); // what a call costs its caller's unchecked work: 0 once checked
    let tableWeight = 0;

    // Iterative Tarjan.
    const index = new Int32Array(nodes).fill(-1);
    const low = new Int32Array(nodes);
    const onStack = new Uint8Array(nodes);
    const stack = new Int32Array(nodes);
    let sp = 0;
    const frameNode = new Int32Array(nodes);
    const frameNext = new Int32Array(nodes);
    let fp = 0;
    let counter = 0;

    const component = (root: number): void => {
      // the component is stack[from..sp)
      let from = sp;
      do from--;
      while (stack[from] !== root);
      const size = sp - from;
      let cyclic = size > 1;
      if (!cyclic && root !== table) {
        for (let at = calleesStart[root]!, end = calleesEnd(root); at < end; at++) if (callees[at] === root) cyclic = true;
      }
      let hasTable = false;
      for (let k = from; k < sp; k++) {
        const f = stack[k]!;
        onStack[f] = 0;
        if (f === table) hasTable = true;
        else if (cyclic || loops[f]) checked[f] = 1;
      }
      if (hasTable) {
        // every target is done: in this component (and so checked) or in one found before
        for (const f of targets) tableWeight = Math.max(tableWeight, weight[f]!);
      }
      for (let k = from; k < sp; k++) {
        const f = stack[k]!;
        if (f === table || checked[f]) continue;
        // acyclic and without loops: a component of its own, its callees done
        let w = instructions[f]! + indirectCalls[f]! * tableWeight;
        for (let at = calleesStart[f]!, end = calleesEnd(f); at < end; at++) {
          const g = callees[at]!;
          if (g >= 0) w += weight[g]!;
        }
        if (w > maxWeight) checked[f] = 1;
        else weight[f] = w;
      }
      sp = from;
    };

    for (let root = 0; root < nodes; root++) {
      if (index[root] >= 0) continue;
      index[root] = low[root] = counter++;
      stack[sp++] = root;
      onStack[root] = 1;
      frameNode[fp] = root;
      frameNext[fp++] = 0;
      while (fp > 0) {
        const v = frameNode[fp - 1]!;
        const w = successor(v, frameNext[fp - 1]!++);
        if (w === -1) continue;
        if (w >= 0) {
          if (index[w]! < 0) {
            index[w] = low[w] = counter++;
            stack[sp++] = w;
            onStack[w] = 1;
            frameNode[fp] = w;
            frameNext[fp++] = 0;
          } else if (onStack[w]) {
            low[v] = Math.min(low[v]!, index[w]!);
          }
          continue;
        }
        fp--;
        if (low[v] === index[v]) component(v);
        if (fp > 0) {
          const u = frameNode[fp - 1]!;
          low[u] = Math.min(low[u]!, low[v]!);
        }
      }
    }
    return checked;
  }
}

/**
 * Topic exchange: a trie over dot-separated words. In a binding key `*` is
 * exactly one word and `#` zero or more; in a routing key they are literal.
 *
 * Word splitting follows RabbitMQ (rabbit_db_topic_exchange:split_topic_key):
 * "" is ZERO words, so it matches `#` and the binding key "" but not `*`;
 * every other key is split on every dot, so "a..b" is [a, "", b] and "." is
 * ["", ""]; empty words are ordinary literal words.
 */
import { BaseMatcher, DestSet, type Binding } from './matcher.js';

class TopicNode<D> {
  /** Literal children; `*` and `#` live in their own slots so matching never looks them up. */
  children: Map<string, TopicNode<D>> | null = null;
  star: TopicNode<D> | null = null;
  hash: TopicNode<D> | null = null;
  dests: DestSet<D> | null = null;
  /** On `#` nodes: the lowest word position expanded during match number `epoch`. */
  epoch = 0;
  low = 0;

  constructor(
    readonly parent: TopicNode<D> | null,
    readonly word: string,
  ) {}

  isEmpty(): boolean {
    return this.dests === null && this.children === null && this.star === null && this.hash === null;
  }
}

const SCRATCH_MAX = 4096;
const NO_WORDS: readonly string[] = Object.freeze([]);

/** Words of a binding or routing key (see the module comment for ""). */
export function splitTopicKey(key: string): readonly string[] {
  return key === '' ? NO_WORDS : key.split('.');
}

/** `#.#` matches what `#` matches: collapsing runs keeps the walk linear in the key's length. */
function bindingWords(key: string): readonly string[] {
  const words = splitTopicKey(key);
  let run = false;
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '#' && run) return words.filter((w, j) => w !== '#' || words[j - 1] !== '#');
    run = words[i] === '#';
  }
  return words;
}

export class TopicMatcher<D> extends BaseMatcher<D> {
  private readonly root = new TopicNode<D>(null, '');
  private nodes = 0;
  private epoch = 0;
  // Explicit stack, reused across messages: no recursion depth limit for keys with many words.
  private readonly stackNode: TopicNode<D>[] = [];
  private readonly stackPos: number[] = [];
  // Per-message scratch: end offset of each word, and words cut so far (valid when wordEpoch[i] === epoch).
  private readonly ends: number[] = [];
  private readonly words: string[] = [];
  private readonly wordEpoch: number[] = [];

  /** Trie nodes besides the root; 0 once every binding is gone. */
  get nodeCount(): number {
    return this.nodes;
  }

  protected insert(binding: Binding<D>): void {
    const words = bindingWords(binding.routingKey);
    let node = this.root;
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      let next: TopicNode<D> | null | undefined;
      if (w === '*') next = node.star ??= this.newNode(node, w);
      else if (w === '#') next = node.hash ??= this.newNode(node, w);
      else {
        node.children ??= new Map();
        next = node.children.get(w);
        if (next === undefined) node.children.set(w, (next = this.newNode(node, w)));
      }
      node = next;
    }
    (node.dests ??= new DestSet()).add(binding.destination);
  }

  protected delete(binding: Binding<D>): void {
    const words = bindingWords(binding.routingKey);
    let node: TopicNode<D> | null | undefined = this.root;
    for (let i = 0; i < words.length && node; i++) {
      const w = words[i]!;
      node = w === '*' ? node.star : w === '#' ? node.hash : node.children?.get(w);
    }
    if (!node?.dests) return;
    if (node.dests.remove(binding.destination)) node.dests = null;
    // Prune the now-empty tail of the path so churn does not leak nodes.
    while (node.parent !== null && node.isEmpty()) {
      const parent: TopicNode<D> = node.parent;
      if (node.word === '*') parent.star = null;
      else if (node.word === '#') parent.hash = null;
      else {
        parent.children!.delete(node.word);
        if (parent.children!.size === 0) parent.children = null;
      }
      this.nodes--;
      node = parent;
    }
  }

  private newNode(parent: TopicNode<D>, word: string): TopicNode<D> {
    this.nodes++;
    return new TopicNode(parent, word);
  }

  match(routingKey: string, _headers: Record<string, unknown> | undefined, out: Set<D>): void {
    if (this.size === 0) return;
    // Word boundaries instead of split(): no array and no substring for a
    // word that no literal edge needs; a needed word is cut once per message.
    const ends = this.ends;
    let n = 0;
    if (routingKey.length > 0) {
      for (let p = 0; ; ) {
        const dot = routingKey.indexOf('.', p);
        if (dot < 0) {
          ends[n++] = routingKey.length;
          break;
        }
        ends[n++] = dot;
        p = dot + 1;
      }
    }
    const words = this.words;
    const wordEpoch = this.wordEpoch;
    const epoch = ++this.epoch;
    const root = this.root;
    const stackNode = this.stackNode;
    const stackPos = this.stackPos;
    stackNode[0] = root;
    stackPos[0] = 0;
    let top = 1;
    while (top > 0) {
      top--;
      const node = stackNode[top]!;
      const i = stackPos[top]!;
      // Popped slots must not pin nodes (and queues) that a later unbind frees.
      stackNode[top] = root;
      if (i === n) {
        node.dests?.addAllTo(out);
      } else {
        if (node.children !== null) {
          let word: string;
          if (wordEpoch[i] === epoch) word = words[i]!;
          else {
            word = routingKey.substring(i === 0 ? 0 : ends[i - 1]! + 1, ends[i]);
            words[i] = word;
            wordEpoch[i] = epoch;
          }
          const child = node.children.get(word);
          if (child !== undefined) {
            stackNode[top] = child;
            stackPos[top++] = i + 1;
          }
        }
        if (node.star !== null) {
          stackNode[top] = node.star;
          stackPos[top++] = i + 1;
        }
      }
      const hash = node.hash;
      if (hash !== null) {
        // `#` at position i continues at every j in [i, n]. Positions already
        // expanded for this message are skipped, so each (node, position)
        // pair is visited at most once even with many `#` per pattern.
        let hi = n;
        if (hash.epoch === epoch) {
          if (hash.low <= i) continue;
          hi = hash.low - 1;
        } else hash.epoch = epoch;
        hash.low = i;
        for (let j = i; j <= hi; j++) {
          stackNode[top] = hash;
          stackPos[top++] = j;
        }
      }
    }
    // One huge key must not leave every topic exchange holding huge scratch arrays.
    if (ends.length > SCRATCH_MAX || stackNode.length > SCRATCH_MAX) {
      ends.length = words.length = wordEpoch.length = 0;
      stackNode.length = stackPos.length = 0;
    }
  }
}

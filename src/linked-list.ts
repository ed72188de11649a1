// A doubly linked list whose nodes are the entries themselves: appending and removing are a few pointer
// moves, with no hashing and nothing allocated (the request path's deadlines and the drain's answers).

/** An entry of one LinkedList; a class extends it to be listed. */
export class ListNode {
  /** @internal The neighbours in the list (undefined at its ends). */
  prev: ListNode | undefined = undefined;
  /** @internal */
  next: ListNode | undefined = undefined;
  /** @internal True from append() until removed. */
  listed = false;
}

export class LinkedList<N extends ListNode> {
  private head: N | undefined = undefined;
  private tail: N | undefined = undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The oldest entry, or undefined when empty. */
  get first(): N | undefined {
    return this.head;
  }

  /** Adds `node` at the end (it must not be in a list). */
  append(node: N): void {
    node.listed = true;
    if (this.tail === undefined) this.head = node;
    else {
      this.tail.next = node;
      node.prev = this.tail;
    }
    this.tail = node;
    this.count++;
  }

  /** Takes `node` out; false if it was not listed (removed before, or never added). */
  remove(node: N): boolean {
    if (!node.listed) return false;
    node.listed = false;
    const { prev, next } = node;
    if (prev === undefined) this.head = next as N | undefined;
    else prev.next = next;
    if (next === undefined) this.tail = prev as N | undefined;
    else next.prev = prev;
    node.prev = node.next = undefined;
    this.count--;
    return true;
  }

  *[Symbol.iterator](): Generator<N> {
    for (let node = this.head; node !== undefined; node = node.next as N | undefined) yield node;
  }
}

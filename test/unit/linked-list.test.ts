import { describe, expect, it } from 'vitest';
import { LinkedList, ListNode } from '../../src/linked-list.js';

class Entry extends ListNode {
  constructor(readonly name: string) {
    super();
  }
}

const names = (list: LinkedList<Entry>): string[] => [...list].map((e) => e.name);

describe('LinkedList', () => {
  it('keeps the order of append through removals at the head, in the middle and at the tail', () => {
    const list = new LinkedList<Entry>();
    const [a, b, c, d, e] = ['a', 'b', 'c', 'd', 'e'].map((n) => new Entry(n)) as [Entry, Entry, Entry, Entry, Entry];
    for (const entry of [a, b, c, d, e]) list.append(entry);
    expect(names(list)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(list.remove(c)).toBe(true);
    expect(list.remove(a)).toBe(true);
    expect(list.remove(e)).toBe(true);
    expect(list.remove(c)).toBe(false); // twice: nothing more happens
    expect(names(list)).toEqual(['b', 'd']);
    expect(list.first).toBe(b);
    expect(list.size).toBe(2);
    list.append(c); // a removed entry can be listed again, after the new tail
    expect(names(list)).toEqual(['b', 'd', 'c']);
    for (const entry of [b, d, c]) list.remove(entry);
    expect(list.size).toBe(0);
    expect(list.first).toBeUndefined();
    expect(names(list)).toEqual([]);
    expect(list.remove(new Entry('never added'))).toBe(false);
    list.append(e); // the emptied list takes entries again
    expect(names(list)).toEqual(['e']);
  });
});

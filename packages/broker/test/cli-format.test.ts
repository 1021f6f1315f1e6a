import { describe, expect, it } from 'vitest';
import { ago, cell, displayWidth, renderKeyValues, renderTable, toJson } from '../src/cli/format.js';

describe('renderTable', () => {
  it('pads every column to its widest cell and right-aligns numbers', () => {
    const text = renderTable(
      ['NodeId', 'Host', 'Rack'],
      [
        [1, 'localhost', 'r1'],
        [10, 'a', null],
      ],
    );
    expect(text.split('\n')).toEqual([
      'NodeId  Host       Rack',
      '     1  localhost  r1',
      '    10  a          -',
    ]);
  });

  it('prints only the header when there are no rows, and trims trailing spaces', () => {
    expect(renderTable(['A', 'Longer'], [])).toBe('A  Longer');
    expect(renderTable(['A', 'B'], [['x', '']])).toBe('A  B\nx');
  });

  it('honours explicit alignment, gap and indent', () => {
    const text = renderTable(
      [
        { header: 'N', align: 'left' },
        { header: 'Name', align: 'right' },
      ],
      [[1, 'ab']],
      {
        gap: 1,
        indent: '> ',
      },
    );
    expect(text.split('\n')).toEqual(['> N Name', '> 1   ab']);
  });

  it('keeps a column of numbers and blanks right-aligned, a column of blanks left-aligned', () => {
    const text = renderTable(
      ['Lag', 'Rack'],
      [
        [5, null],
        [null, undefined],
        [12, null],
      ],
    );
    expect(text.split('\n')).toEqual(['Lag  Rack', '  5  -', '  -  -', ' 12  -']);
  });

  it('measures width in code points and ignores ANSI colours', () => {
    expect(displayWidth('\u001b[36mnode 1\u001b[0m')).toBe(6);
    expect(displayWidth('é€')).toBe(2);
    const text = renderTable(
      ['X', 'Y'],
      [
        ['\u001b[31mred\u001b[0m', 1],
        ['longer', 2],
      ],
    );
    expect(text.split('\n')[1]).toBe('\u001b[31mred\u001b[0m     1');
  });
});

describe('cell', () => {
  it('renders nothing as -, lists comma-joined, objects as JSON', () => {
    expect(cell(null)).toBe('-');
    expect(cell(undefined)).toBe('-');
    expect(cell([])).toBe('-');
    expect(cell([1, 2, 3])).toBe('1,2,3');
    expect(cell({ a: 1 })).toBe('{"a":1}');
    expect(cell(false)).toBe('false');
    expect(cell('')).toBe('');
  });
});

describe('renderKeyValues', () => {
  it('aligns the values after the keys', () => {
    expect(
      renderKeyValues([
        ['ClusterId', 'abc'],
        ['LeaderId', 1],
        ['CurrentObservers', []],
      ]),
    ).toBe('ClusterId:         abc\nLeaderId:          1\nCurrentObservers:  -');
  });
});

describe('toJson and ago', () => {
  it('serialises Maps, Sets and bigints', () => {
    expect(JSON.parse(toJson({ m: new Map([['a', 1]]), s: new Set([2]), b: 3n }))).toEqual({
      m: { a: 1 },
      s: [2],
      b: '3',
    });
  });

  it('says how long ago a timestamp was, - when unknown', () => {
    expect(ago(-1, 1000)).toBe('-');
    expect(ago(990, 1000)).toBe('10 ms ago');
    expect(ago(0, 2_500)).toBe('2.5 s ago');
    expect(ago(0, 180_000)).toBe('3 min ago');
    expect(ago(0, 5_400_000)).toBe('1.5 h ago');
  });
});

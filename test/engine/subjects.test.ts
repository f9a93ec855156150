import { describe, expect, it } from 'vitest';
import { isValidSubject, subjectMatches } from '../../src/engine/subjects.js';

describe('subjects', () => {
  it('match like NATS: * is one token, > one or more at the end', () => {
    expect(subjectMatches('audit.>', 'audit.text')).toBe(true);
    expect(subjectMatches('audit.>', 'audit.a.b')).toBe(true);
    expect(subjectMatches('audit.>', 'audit')).toBe(false);
    expect(subjectMatches('audit.*', 'audit.a')).toBe(true);
    expect(subjectMatches('audit.*', 'audit.a.b')).toBe(false);
    expect(subjectMatches('*.in', 'text.in')).toBe(true);
    expect(subjectMatches('text.in', 'text.in')).toBe(true);
    expect(subjectMatches('text.in', 'text.inx')).toBe(false);
    expect(subjectMatches('a.*.c', 'a.b')).toBe(false);
  });

  it('validate publish subjects and patterns', () => {
    expect(isValidSubject('text.out', false)).toBe(true);
    expect(isValidSubject('text.*', false)).toBe(false);
    expect(isValidSubject('text.*', true)).toBe(true);
    expect(isValidSubject('text.>.x', true)).toBe(false);
    expect(isValidSubject('text..out', true)).toBe(false);
    expect(isValidSubject('text out', true)).toBe(false);
    expect(isValidSubject('te*t', true)).toBe(false);
    expect(isValidSubject('', true)).toBe(false);
    expect(isValidSubject('text.\u0001x', false)).toBe(false);
    expect(isValidSubject('text.\u007fx', true)).toBe(false);
    expect(isValidSubject('text.\u00a0x', false)).toBe(false);
    expect(isValidSubject('.text', false)).toBe(false);
    expect(isValidSubject('text.', false)).toBe(false);
    expect(isValidSubject('>', false)).toBe(false);
    expect(isValidSubject('>', true)).toBe(true);
    expect(isValidSubject('tëxt.ö', false)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { conninfo, redactConninfo } from '../../../src/postgres/conninfo.js';

describe('conninfo', () => {
  it('quotes values libpq would split', () => {
    expect(conninfo({ host: 'h', application_name: "a b'c", port: 1, empty: '', missing: undefined })).toBe(
      "host=h application_name='a b\\'c' port=1",
    );
  });

  it('redacts passwords in key=value and URI form', () => {
    expect(redactConninfo("host=a password='x y' user=b")).toBe('host=a password=******** user=b');
    expect(redactConninfo('postgres://u:secret@h:5432/db')).toBe('postgres://u:********@h:5432/db');
  });
});

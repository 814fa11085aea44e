/**
 * Why webhook/flyte/prototext.ts is not @bufbuild/protobuf's text format (`@bufbuild/protobuf/txtpb`):
 * run over the same Go answers the differential test uses (test/fixtures/flyte-go-oracle.json), the
 * library parses differently from golang/protobuf v1.5.4 `proto.UnmarshalText`, which Flyte uses.
 * This test pins the exact differences (webhook/flyte/README.md lists them). When it fails because
 * the library moved closer to Go, look again at replacing the hand-written parser.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { create, createFileRegistry, type DescMessage } from '@bufbuild/protobuf';
import { fromText, toText } from '@bufbuild/protobuf/txtpb';
import {
  FileDescriptorProtoSchema,
  FieldDescriptorProto_Label as Label,
  FieldDescriptorProto_Type as Type,
} from '@bufbuild/protobuf/wkt';
import { formatSecretText } from '../../../webhook/flyte/prototext.js';

/** flyteidl/core/security.proto's Secret, built in place (as go-oracle/main.go does). */
function secretSchema(): DescMessage {
  const field = (name: string, number: number, jsonName: string, type = Type.STRING, typeName?: string) => ({
    name,
    number,
    jsonName,
    type,
    typeName,
    label: Label.OPTIONAL,
  });
  const file = create(FileDescriptorProtoSchema, {
    name: 'flyteidl/core/security.proto',
    package: 'flyteidl.core',
    syntax: 'proto3',
    messageType: [
      {
        name: 'Secret',
        field: [
          field('group', 1, 'group'),
          field('group_version', 2, 'groupVersion'),
          field('key', 3, 'key'),
          field('mount_requirement', 4, 'mountRequirement', Type.ENUM, '.flyteidl.core.Secret.MountType'),
          field('env_var', 5, 'envVar'),
        ],
        enumType: [
          {
            name: 'MountType',
            value: [
              { name: 'ANY', number: 0 },
              { name: 'ENV_VAR', number: 1 },
              { name: 'FILE', number: 2 },
            ],
          },
        ],
      },
    ],
  });
  return createFileRegistry(file, () => undefined).getMessage('flyteidl.core.Secret')!;
}

interface OracleParse {
  name?: string;
  text?: string;
  go: { ok: boolean; error?: string };
}
const oracle = JSON.parse(readFileSync(new URL('../../fixtures/flyte-go-oracle.json', import.meta.url), 'utf8')) as {
  parse: OracleParse[];
};
const Secret = secretSchema();
const txtpbAccepts = (text: string) => {
  try {
    fromText(Secret, text);
    return true;
  } catch {
    return false;
  }
};

describe("@bufbuild/protobuf txtpb against Flyte's Go text format (why prototext.ts stays)", () => {
  const named = oracle.parse.filter(
    (c): c is OracleParse & { name: string; text: string } => c.name !== undefined && c.text !== undefined,
  );
  const differ = (goOk: boolean) =>
    named.filter((c) => c.go.ok === goOk && txtpbAccepts(c.text) !== goOk).map((c) => c.name);

  it('accepts texts Go rejects (the webhook would read a secret Flyte refuses)', () => {
    assert.deepEqual(differ(false), [
      'octal escape with one digit',
      'octal escape with two digits',
      'non-octal digit',
      '\\x with one digit',
      'vertical tab is not whitespace',
    ]);
  });

  it('rejects texts Go accepts', () => {
    assert.deepEqual(differ(true), [
      'enum number with +',
      'enum number 0o',
      'enum number in binary',
      'enum number with _ between digits',
      'enum number with _ after a prefix',
      'hex escapes \\x and \\X',
      'a surrogate code point becomes U+FFFD, as in Go',
      'raw tab and NUL inside a string',
      'octal escape that is not UTF-8',
      'hex escape that is not UTF-8',
      'UTF-8 cut across adjacent strings is found in the second',
    ]);
  });

  it('names no position in its errors (ours: line and column)', () => {
    assert.throws(
      () => fromText(Secret, 'key: "k"\ngrp: "g"\n'),
      (err: Error) => !/line|column|:\d+/.test(err.message),
    );
  });

  it('writes non-ASCII and control characters unlike Go (\\x.. and raw UTF-8, Go: octal bytes)', () => {
    const secret = { group: 'é', groupVersion: '', key: '\u0007', envVar: '', mountRequirement: 'ANY' as const };
    const theirs = toText(Secret, create(Secret, { group: secret.group, key: secret.key } as never));
    assert.equal(formatSecretText(secret), 'group: "\\303\\251"\nkey: "\\007"\n');
    assert.notEqual(theirs, formatSecretText(secret));
  });
});

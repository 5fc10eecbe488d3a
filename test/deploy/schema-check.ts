// Field names the Kubernetes schemas know. kubernetes-models' validate() checks types, required fields and
// patterns but lets unknown fields through (a misspelt `readinesProbe` would pass it and be dropped by the API
// server), so each object is also type-checked by TypeScript as an object literal of its kind's interface:
// excess property checks reject every field the schema does not declare, at any depth.
import path from 'node:path';
import ts from 'typescript';
import { ROOT } from '../helpers/server.js';
import { KINDS, type K8sObject, kindKey } from './manifests.js';

/** One line per field the schema of its kind does not know (empty when every field is known). */
export function unknownFields(objects: K8sObject[]): string[] {
  // A virtual file inside the repository, so that module resolution finds node_modules; never written to disk.
  const file = path.join(ROOT, 'test/deploy/__rendered-objects__.ts');
  const lines: string[] = [];
  const owners: string[] = [];
  objects.forEach((o, i) => {
    const entry = KINDS[kindKey(o)];
    if (!entry) throw new Error(`no schema for ${kindKey(o)}`);
    lines.push(`import type { I${o.kind} as T${i} } from '${entry.module}';`);
    owners.push('');
  });
  objects.forEach((o, i) => {
    lines.push(`export const o${i}: T${i} = ${JSON.stringify(o)};`);
    owners.push(`${o.kind} ${o.metadata.name}`);
  });
  const source = lines.join('\n');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, onError, create) => (name === file ? ts.createSourceFile(name, source, lang) : getSourceFile.call(host, name, lang, onError, create));
  host.fileExists = (name) => name === file || fileExists.call(host, name);
  host.readFile = (name) => (name === file ? source : readFile.call(host, name));
  const program = ts.createProgram([file], options, host);
  const sf = program.getSourceFile(file)!;
  return ts.getPreEmitDiagnostics(program, sf).map((d) => {
    const line = d.start === undefined ? -1 : sf.getLineAndCharacterOfPosition(d.start).line;
    const owner = owners[line] || '(imports)';
    return `${owner}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

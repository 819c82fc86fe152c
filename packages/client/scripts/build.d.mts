// Types for the helpers that scripts/build.mjs exports (used by src/build.test.ts).
export declare function isRuntimeDependency(specifier: string): boolean;
export declare function portableDeclarations(code: string, fileName?: string): { code: string; erased: number };
export declare function referencedModules(code: string): string[];

export const WEB_DIR: string;
export interface BuiltWebAssets {
  files: Record<string, { type: string; body: Buffer }>;
  inputs: string[];
}
export function buildWebAssets(): Promise<BuiltWebAssets>;

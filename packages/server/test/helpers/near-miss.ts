/**
 * The value with its first character replaced by one of `replacements` that differs from it,
 * so a "wrong" secret or id is never the right one by chance (one random secret in 64 starts
 * with any given letter: a fixed replacement once made a wrong-secret test pass the real secret).
 */
export function withAnotherFirstCharacter(value: string, replacements = 'xy'): string {
  const replacement = [...replacements].find((c) => c !== value[0]);
  if (replacement === undefined || replacements.length < 2) throw new Error('give at least two replacement characters');
  return `${replacement}${value.slice(1)}`;
}

// Our peer servers exit when the bench that started them goes away (their stdin pipe closes),
// so a bench killed with SIGKILL leaves no server behind.

export function exitWithParent(): void {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  process.on('SIGTERM', () => process.exit(0));
}

#!/usr/bin/env node
// The user CLI of @oapi-media/client. The package ships TypeScript; tsx runs it.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');

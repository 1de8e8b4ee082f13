#!/usr/bin/env node
// The `portcullis` command. Sources are TypeScript run through tsx's loader, so there is no
// build step between a clone and `npm start`.
import { register } from 'tsx/esm/api'

register()
await import('../src/main.ts')

#!/usr/bin/env node
// Entry of the fence guard process, spawned by the agent (src/fence/fence-guard-client.ts) as
// `fence-guard <data_dir>`; the guard's logic is src/fence/fence-guard.ts.
import '../fence/fence-guard.js';

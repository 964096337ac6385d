#!/usr/bin/env node
// Committed shim so npm can link the `warren` command before the first build.
import '../dist/bin.js';

#!/usr/bin/env node
'use strict'
require('../dist/cli/hearth-broker.js').main(process.argv.slice(2))

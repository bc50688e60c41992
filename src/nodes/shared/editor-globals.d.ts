// Globals the Node-RED editor provides to node editor scripts.
declare const RED: import('./editor-red').EditorRED
declare const $: import('./editor-red').JQStatic

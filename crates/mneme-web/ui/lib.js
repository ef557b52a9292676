// The UI's one import point for Preact and htm: views write `html\`<div>...</div>\``.
import { h, render, Fragment } from "./vendor/preact.mjs";
import { useState, useEffect, useMemo, useRef, useCallback, useReducer } from "./vendor/hooks.mjs";
import htm from "./vendor/htm.mjs";

export const html = htm.bind(h);
export { h, render, Fragment, useState, useEffect, useMemo, useRef, useCallback, useReducer };

/** Small inline icons (their shared <svg> attributes in iconProps.ts). Decorative only. */
import { iconSvgProps as common } from './iconProps.js';

/** A pencil (edit, rename). */
export function PencilIcon() {
  return (
    <svg {...common}>
      <path d="M11 2.5l2.5 2.5L5.5 13H3v-2.5z" />
    </svg>
  );
}

/** A bin (delete, remove). */
export function TrashIcon() {
  return (
    <svg {...common}>
      <path d="M2.5 4h11M6 4V2.5h4V4M4 4l.7 9.5h6.6L12 4" />
    </svg>
  );
}

export interface SpecTagProblem { file: string, line: number, column: number, message: string }
export function checkSpecTags (text: string, file?: string): SpecTagProblem[]
export function checkSpecTagsTree (dir: string): SpecTagProblem[]

// The subset of Discord's request validation that a bot is likely to trip
// over: message/embed/component limits and slash command definitions.
// Limits are Discord's documented ones; errors take Discord's "Invalid Form
// Body" shape (code 50035, nested `errors` with `_errors` leaves).

/** One rejected field: a dotted path ("embeds.0.title"), Discord's error code and text. */
export interface FormProblem {
  path: string;
  code: string;
  message: string;
}

/** Discord's 400 body for a bad field. */
export function formErrorBody(problem: FormProblem): Record<string, unknown> {
  const errors: Record<string, unknown> = {};
  let node = errors;
  const parts = problem.path.split('.');
  parts.forEach((part, i) => {
    const next: Record<string, unknown> = i === parts.length - 1 ? { _errors: [{ code: problem.code, message: problem.message }] } : {};
    node[part] = next;
    node = next;
  });
  return { message: 'Invalid Form Body', code: 50035, errors };
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const tooLong = (path: string, max: number): FormProblem => ({ path, code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${max} or fewer in length.` });
const required = (path: string): FormProblem => ({ path, code: 'BASE_TYPE_REQUIRED', message: 'This field is required' });

function checkString(value: unknown, path: string, max: number, min = 0): FormProblem | undefined {
  if (value === undefined || value === null) return min > 0 ? required(path) : undefined;
  if (typeof value !== 'string') return { path, code: 'STRING_TYPE_CONVERT', message: 'Could not interpret value as string.' };
  if ([...value].length > max) return tooLong(path, max);
  if ([...value].length < min) return { path, code: 'BASE_TYPE_MIN_LENGTH', message: `Must be ${min} or more in length.` };
  return undefined;
}

function checkEmbed(embed: unknown, path: string): FormProblem | undefined {
  if (!isObject(embed)) return { path, code: 'MODEL_TYPE_CONVERT', message: 'Only dictionaries may be used in a ModelType' };
  const color = embed.color;
  if (color !== undefined && (typeof color !== 'number' || !Number.isInteger(color) || color < 0 || color > 0xffffff)) {
    return { path: `${path}.color`, code: 'NUMBER_TYPE_MAX', message: 'int value should be less than or equal to 16777215.' };
  }
  if (embed.url !== undefined && !(typeof embed.url === 'string' && /^https?:\/\//.test(embed.url))) {
    return { path: `${path}.url`, code: 'URL_TYPE_INVALID_URL', message: 'Not a well formed URL.' };
  }
  return checkString(embed.title, `${path}.title`, 256) ?? checkString(embed.description, `${path}.description`, 4096);
}

function checkComponents(rows: unknown, path: string): FormProblem | undefined {
  if (!Array.isArray(rows)) return { path, code: 'LIST_TYPE_CONVERT', message: 'Must be an array.' };
  if (rows.length > 5) return tooLong(path, 5);
  const customIds = new Set<string>();
  for (const [r, row] of rows.entries()) {
    const rowPath = `${path}.${r}`;
    if (!isObject(row) || row.type !== 1) return { path: `${rowPath}.type`, code: 'UNION_TYPE_CHOICES', message: 'Value of field "type" must be one of (1,).' };
    const children = row.components;
    if (!Array.isArray(children) || children.length === 0)
      return { path: `${rowPath}.components`, code: 'BASE_TYPE_MIN_LENGTH', message: 'Must be 1 or more in length.' };
    if (children.length > 5) return tooLong(`${rowPath}.components`, 5);
    for (const [c, child] of children.entries()) {
      const childPath = `${rowPath}.components.${c}`;
      if (!isObject(child) || child.type !== 2)
        return { path: `${childPath}.type`, code: 'UNION_TYPE_CHOICES', message: 'Only buttons are modelled by this fake.' };
      const style = child.style;
      if (typeof style !== 'number' || style < 1 || style > 6)
        return { path: `${childPath}.style`, code: 'BASE_TYPE_CHOICES', message: 'Value must be one of {1, 2, 3, 4, 5, 6}.' };
      if (style === 5) {
        if (typeof child.url !== 'string') return required(`${childPath}.url`);
        continue;
      }
      const problem = checkString(child.label, `${childPath}.label`, 80) ?? checkString(child.custom_id, `${childPath}.custom_id`, 100, 1);
      if (problem) return problem;
      const customId = child.custom_id as string;
      if (customIds.has(customId))
        return { path: `${childPath}.custom_id`, code: 'COMPONENT_CUSTOM_ID_DUPLICATED', message: 'Component custom id cannot be duplicated' };
      customIds.add(customId);
    }
  }
  return undefined;
}

/** Checks a message body (create, edit, interaction response data); `creating` requires some content. */
export function checkMessageBody(body: Json, creating: boolean): FormProblem | 'empty' | undefined {
  const contentProblem = checkString(body.content, 'content', 2000);
  if (contentProblem) return contentProblem;
  if (body.embeds !== undefined) {
    if (!Array.isArray(body.embeds)) return { path: 'embeds', code: 'LIST_TYPE_CONVERT', message: 'Must be an array.' };
    if (body.embeds.length > 10) return tooLong('embeds', 10);
    for (const [i, embed] of body.embeds.entries()) {
      const problem = checkEmbed(embed, `embeds.${i}`);
      if (problem) return problem;
    }
  }
  if (body.components !== undefined) {
    const problem = checkComponents(body.components, 'components');
    if (problem) return problem;
  }
  if (creating) {
    const hasContent = typeof body.content === 'string' && body.content.trim() !== '';
    const hasEmbeds = Array.isArray(body.embeds) && body.embeds.length > 0;
    const hasComponents = Array.isArray(body.components) && body.components.length > 0;
    if (!hasContent && !hasEmbeds && !hasComponents) return 'empty';
  }
  return undefined;
}

// Discord's documented pattern for command and option names (CHAT_INPUT commands must also be lowercase).
const COMMAND_NAME = /^[-_\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

function checkName(value: unknown, path: string): FormProblem | undefined {
  if (typeof value !== 'string' || !COMMAND_NAME.test(value) || value !== value.toLowerCase()) {
    return { path, code: 'APPLICATION_COMMAND_INVALID_NAME', message: `Command name is invalid` };
  }
  return undefined;
}

/** Checks a bulk-overwrite body of CHAT_INPUT commands with STRING options. */
export function checkCommandList(body: unknown): FormProblem | undefined {
  if (!Array.isArray(body)) return { path: '_root', code: 'LIST_TYPE_CONVERT', message: 'Must be an array.' };
  if (body.length > 100) return tooLong('_root', 100);
  const names = new Set<string>();
  for (const [i, command] of body.entries()) {
    const path = String(i);
    if (!isObject(command)) return { path, code: 'MODEL_TYPE_CONVERT', message: 'Only dictionaries may be used in a ModelType' };
    const problem = checkName(command.name, `${path}.name`) ?? checkString(command.description, `${path}.description`, 100, 1);
    if (problem) return problem;
    if (command.type !== undefined && command.type !== 1)
      return { path: `${path}.type`, code: 'BASE_TYPE_CHOICES', message: 'Only CHAT_INPUT commands are modelled by this fake.' };
    if (names.has(command.name as string))
      return { path: `${path}.name`, code: 'APPLICATION_COMMANDS_DUPLICATE_NAME', message: 'Application command names must be unique' };
    names.add(command.name as string);
    const options = command.options ?? [];
    if (!Array.isArray(options)) return { path: `${path}.options`, code: 'LIST_TYPE_CONVERT', message: 'Must be an array.' };
    if (options.length > 25) return tooLong(`${path}.options`, 25);
    let optionalSeen = false;
    const optionNames = new Set<string>();
    for (const [j, option] of options.entries()) {
      const optionPath = `${path}.options.${j}`;
      if (!isObject(option)) return { path: optionPath, code: 'MODEL_TYPE_CONVERT', message: 'Only dictionaries may be used in a ModelType' };
      const optionProblem = checkName(option.name, `${optionPath}.name`) ?? checkString(option.description, `${optionPath}.description`, 100, 1);
      if (optionProblem) return optionProblem;
      if (option.type !== 3) return { path: `${optionPath}.type`, code: 'BASE_TYPE_CHOICES', message: 'Only STRING options are modelled by this fake.' };
      if (optionNames.has(option.name as string))
        return { path: `${optionPath}.name`, code: 'APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS', message: 'Option names must be unique' };
      optionNames.add(option.name as string);
      if (option.required === true && optionalSeen) {
        return {
          path: `${path}.options`,
          code: 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID',
          message: 'Required options must be placed before non-required options',
        };
      }
      if (option.required !== true) optionalSeen = true;
    }
  }
  return undefined;
}

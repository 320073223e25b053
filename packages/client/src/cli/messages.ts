// The CLI's words for the errors it finds itself, before anything is sent (the SDK's local
// checks), in English or Chinese. Errors the server answered are printed as it sent them
// (DingTalk's errmsg, api.md "Error codes"): those are the wire's, not the CLI's.
//
// The language: --lang, else the locale (LC_ALL, then LC_MESSAGES, then LANG, as gettext reads
// them), Chinese for zh*, English otherwise. A user on a Chinese desktop reads Chinese without
// a flag; scripts and CI (LANG=C or unset) get English.

import { DINGTALK_ERRORS } from '@oapi-media/core';
import type { DingTalkError } from '../errors.ts';
import { LOCAL_CHECK_NOTES } from '../local-checks.ts';

export const LANGUAGES = ['en', 'zh'] as const;
export type Language = (typeof LANGUAGES)[number];

export function languageOf(flag: string | undefined, env: NodeJS.ProcessEnv): Language {
  if (flag === 'en' || flag === 'zh') return flag;
  const locale = env.LC_ALL || env.LC_MESSAGES || env.LANG || '';
  return /^zh([_.@-]|$)/i.test(locale) ? 'zh' : 'en';
}

const NOTES: Record<string, Record<Language, string>> = {
  [LOCAL_CHECK_NOTES.nothingSent]: { en: '(checked locally, nothing sent)', zh: '（本地检查，未发送）' },
  [LOCAL_CHECK_NOTES.stoppedAtLimit]: { en: '(checked locally, upload stopped at the limit)', zh: '（本地检查，上传在大小上限处停止）' },
};

/** "40005 invalid file type (checked locally, nothing sent)", or its Chinese twin. */
export function localCheckLine(error: DingTalkError, language: Language): string {
  // The SDK gives a local error DingTalk's Chinese errmsg for its errcode; find its English twin.
  const known = Object.values(DINGTALK_ERRORS).find((e) => e.errcode === error.errcode && e.zh === error.errmsg);
  const text = language === 'en' && known ? known.en : error.errmsg;
  const note = error.note ? NOTES[error.note]?.[language] ?? `(${error.note})` : '';
  const separator = language === 'zh' ? '' : ' ';
  return `${error.errcode} ${text}${note ? separator + note : ''}`;
}

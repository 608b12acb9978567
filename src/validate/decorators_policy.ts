// Flow decorators and deploy options this integration must honour exactly, or refuse
// at compile time: nothing is silently dropped.
import { isTimeZone, toDagsterCron } from "../base/cron.js";
import type { Problem } from "../base/problems.js";
import { EVENT_NAME, resolveEventMappings, type FlowIR, type JsonValue } from "../ir/index.js";

function nonEmpty(options: Record<string, JsonValue>): string[] {
  return Object.keys(options).sort();
}

function checkSchedule(ir: FlowIR): Problem[] {
  const schedule = ir.automation.schedule;
  if (schedule === null) return [];
  const problems: Problem[] = [];
  const cron = toDagsterCron(schedule.expression);
  if (!cron.ok) problems.push({ decorator: "schedule", message: `cannot schedule with ${cron.reason}` });
  if (schedule.timezone !== null && !isTimeZone(schedule.timezone)) {
    problems.push({
      decorator: "schedule",
      message: `timezone '${schedule.timezone}' is not an IANA time zone (e.g. 'Europe/Paris')`,
    });
  }
  for (const param of ir.parameters) {
    if (param.required && !param.hasDefault) {
      problems.push({
        decorator: "schedule",
        message: `parameter '${param.name}' is required and has no default, so a scheduled run could not start; give it a default`,
      });
    }
  }
  return problems;
}

function checkEvents(ir: FlowIR): Problem[] {
  const events = ir.automation.events;
  if (events === null) return [];
  const problems: Problem[] = [];
  const options = nonEmpty(events.options);
  if (options.length > 0) {
    problems.push({
      decorator: "trigger",
      message: `options ${options.join(", ")} are specific to Argo Events and have no Dagster equivalent; remove them`,
    });
  }
  for (const event of events.events) {
    if (!EVENT_NAME.test(event.name)) {
      problems.push({
        decorator: "trigger",
        message: `event name '${event.name}' may only contain letters, digits, '_', '-' and '.'`,
      });
    }
  }
  problems.push(...resolveEventMappings(ir).problems);
  return problems;
}

function checkOnFinish(ir: FlowIR): Problem[] {
  const onFinish = ir.automation.onFinish;
  if (onFinish === null) return [];
  const options = nonEmpty(onFinish.options);
  if (options.length === 0) return [];
  return [
    {
      decorator: "trigger_on_finish",
      message: `options ${options.join(", ")} are specific to Argo Events and have no Dagster equivalent; remove them`,
    },
  ];
}

/** Every flow-level decorator problem, each naming its decorator. */
export function checkDecoratorPolicy(ir: FlowIR): Problem[] {
  return [...checkSchedule(ir), ...checkEvents(ir), ...checkOnFinish(ir)];
}

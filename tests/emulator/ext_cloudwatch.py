"""CloudWatch: an alarm's tags go with it.

On AWS, DeleteAlarms deletes the alarms together with their tags, so an
alarm created again under the same name starts with only the tags of its
PutMetricAlarm call. moto 5.2.5 drops the alarm but keeps its tags under
the ARN, and a re-created alarm reads back the old ones.
"""


def apply() -> None:
    from moto.cloudwatch.models import CloudWatchBackend

    original = CloudWatchBackend.delete_alarms

    def delete_alarms(self, alarm_names):
        for name in alarm_names:
            alarm = self.alarms.get(name)
            if alarm is not None:
                self.tagger.delete_all_tags_for_resource(alarm.alarm_arn)
        return original(self, alarm_names)

    CloudWatchBackend.delete_alarms = delete_alarms

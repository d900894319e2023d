"""Chinese headers and labels of the feeds, for a school office that opens the CSV in Excel
(``liveclass feeds --lang zh``).  A column missing here keeps its English name (a test lists the
marts' columns and fails on any that is missing, so new columns get a label)."""

from __future__ import annotations

ZH_HEADERS: dict[str, str] = {
    "absent": "缺勤次数", "as_of": "统计截至", "at_risk": "需关注", "attendance_rate": "出勤率",
    "attended": "出勤次数", "attended_lessons": "出勤课节数", "avg_late_minutes": "平均迟到分钟",
    "avg_late_minutes_when_late": "迟到时平均迟到分钟", "avg_listen_share": "平均听课占比",
    "class_id": "班级ID", "class_name": "班级名称", "classes": "班级数",
    "current_absence_streak": "当前连续缺勤次数", "distinct_students": "学员人数", "early_leave": "早退次数",
    "early_leave_rate": "早退率", "early_leavers": "早退人次", "engagement_score": "参与度得分",
    "enrolled": "应到人数", "expired": "已过期课节", "expired_lessons": "已过期课节", "falling": "出勤下降",
    "finished": "已结束课节", "first_request": "首次求助时间", "grade": "年级", "handups": "举手次数",
    "help_requests": "求助次数", "help_type": "求助类型", "in_class": "上课中课节", "iso_week_label": "周次",
    "last_attended_date": "最近出勤日期", "last_request": "最近求助时间", "last_took_part_date": "最近互动日期",
    "late": "迟到次数", "late_5min": "迟到5分钟以上次数", "late_rate": "迟到率", "late_starts": "迟到开课次数",
    "late_starts_14d": "近14天迟到开课次数", "late_starts_5min": "迟到5分钟以上开课次数",
    "lesson_date": "日期", "lesson_id": "课节ID", "lessons": "课节数", "lessons_held": "已上课节数",
    "lessons_held_14d": "近14天已上课节数", "lessons_held_with_data": "有考勤数据的已上课节数",
    "lessons_last_4w": "近4周课节数", "lessons_prev_4w": "前4周课节数", "lessons_taking_part": "有互动课节数",
    "lessons_with_teacher_data": "有老师考勤数据的课节数", "lessons_without_taking_part": "连续无互动课节数",
    "listen_minutes": "听课分钟", "listen_share": "听课占比", "longest_absence_streak": "最长连续缺勤次数",
    "max_late_minutes": "最长迟到分钟", "mic_off": "关麦次数", "mic_on": "开麦次数", "month_label": "月份",
    "month_start": "月初日期", "never_took_part": "从未互动", "not_started": "未开始课节", "onstage": "上台次数",
    "participation_rate": "互动率", "period_end": "统计结束日期", "period_start": "统计开始日期",
    "punctuality_rate": "准时率", "punctuality_rate_14d": "近14天准时率", "rate_change": "出勤率变化",
    "rate_last_4w": "近4周出勤率", "rate_prev_4w": "前4周出勤率", "recent_start": "近14天起始日期",
    "requests": "求助次数", "reward_all": "全员奖励次数", "rewards": "奖励次数", "risk_reason": "关注原因",
    "scheduled_minutes": "计划时长(分钟)", "scheduled_start": "计划开始时间", "stars": "星星数",
    "start_hour": "开始时段(时)", "status": "状态码", "status_label": "状态", "student_lessons": "应到人次",
    "student_name": "学员姓名", "students": "学员人数", "students_attended": "实到人次",
    "students_enrolled": "应到人次", "students_late": "迟到人次", "subject": "科目", "teacher_id": "老师ID",
    "teacher_late_minutes": "老师迟到分钟", "teacher_name": "老师姓名", "teacher_punctual": "老师准时",
    "teacher_punctuality_rate": "老师准时率", "term": "学期", "term_end": "学期结束", "term_start": "学期开始",
    "user_id": "学员ID", "week_start": "周一日期", "weekday": "星期", "weekly_slope": "每周出勤率变化",
    "weeks": "周数",
}

#: Values shown in words: lesson status labels and booleans.
ZH_VALUES: dict[str, str] = {
    "not started": "未开始", "in class": "上课中", "finished": "已结束", "expired": "已过期", "unknown": "未知",
}
ZH_TRUE, ZH_FALSE = "是", "否"

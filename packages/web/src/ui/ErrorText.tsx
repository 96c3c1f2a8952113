/** An error line announced to screen readers; `id` lets a field name it (aria-describedby). */
export function ErrorText({
  message,
  id,
  className,
}: {
  message: string | undefined;
  id?: string;
  className?: string;
}) {
  if (!message) return null;
  return (
    <p className={className ? `error-text ${className}` : 'error-text'} role="alert" id={id}>
      {message}
    </p>
  );
}

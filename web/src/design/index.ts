// The NEXUS design system: import the stylesheet once (main.tsx does) and
// these components anywhere.
export { Alert, Banner, type AlertProps, type AlertTone } from './Alert';
export { AppShell, PageHeader, TopBar, UserMenu, initials, type AppShellProps, type NavItem, type ShellUser, type TopBarProps } from './AppShell';
export { AppIcon, AppTile, type AppTileProps } from './AppTile';
export { Button, type ButtonProps, type ButtonVariant } from './Button';
export { Card, type CardProps } from './Card';
export { Checkbox, type CheckboxProps } from './Checkbox';
export { EmptyState, type EmptyStateProps } from './EmptyState';
export { Icon, hasIcon, type IconProps } from './icons';
export { SelectField, type SelectFieldProps } from './SelectField';
export { PageLoading, Spinner, type SpinnerProps } from './Spinner';
export { TextAreaField, type TextAreaFieldProps } from './TextAreaField';
export { TextField, type TextFieldProps } from './TextField';
